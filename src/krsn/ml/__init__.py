"""Machine-learning models and their predictions about indicators."""
