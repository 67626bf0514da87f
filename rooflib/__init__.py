"""rooflib: roofline economics of large language models."""
