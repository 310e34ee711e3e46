"""fsspec filesystems that Airflow's ObjectStoragePath loads through provider info ``filesystems``."""
