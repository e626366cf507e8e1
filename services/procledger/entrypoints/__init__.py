"""Entry points: the command line, the HTTP apps and the services' composition roots."""
