"""Grafana dashboards built with the Grafana Foundation SDK (one module per dashboard)."""
