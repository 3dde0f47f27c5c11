"""Running many virtual patients: chunking, local processes or a Dask cluster, streaming to disk."""
