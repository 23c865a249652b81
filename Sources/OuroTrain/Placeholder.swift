// OuroTrain: see README.md in this folder.
