// OuroCluster: see README.md in this folder.
