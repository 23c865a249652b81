// OuroData: see README.md in this folder.
