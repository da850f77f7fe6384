"""The recorder: jobs (one per recording), the pipeline from tracks to files, storage, and the
worker that owns a process's recording slots."""
