"""Pure functions that render what containers get (flags, env, files).

No Pulumi import here: the integration tests import these modules to run the very same
flags and files natively.
"""
