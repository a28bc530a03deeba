"""Archives at scale: resumable batches (local or over Ray workers), events to brokers from batch
runs, a searchable index of the results, and HTML timelines of them."""
