"""The Credit Lab workload: five credit services generating traced SQL."""
