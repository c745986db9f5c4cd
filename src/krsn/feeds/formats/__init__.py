"""Feed formats: one module per format, each a parser behind the ``FeedFormat`` interface."""
