// OuroCheckpoint: see README.md in this folder.
