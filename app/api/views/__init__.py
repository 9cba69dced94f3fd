"""The gateway's views, one module per family of operations. Views stay thin: they name their
operation, read their arguments through schemas, and call the gateway's parts."""
