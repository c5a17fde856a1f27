"""What every stage shares that is not part of the message contract: model locations, words, worker threads."""
