"""citewell's service side: answering questions from an index, on the command line and (soon) over HTTP."""
