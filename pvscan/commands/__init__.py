"""One module per subcommand: argument handling and output, nothing else."""
