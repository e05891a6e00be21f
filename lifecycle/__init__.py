"""SageMaker notebook lifecycle scripts and their rendering."""
