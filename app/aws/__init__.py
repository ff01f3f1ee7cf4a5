"""The aws backend's plumbing: sessions and stack resources, error sentences, SQS dead letters."""
