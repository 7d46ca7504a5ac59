"""Credit Lab's Pulumi components; `components.render` holds the pure renderers tests share."""
