// OuroQuant: see README.md in this folder.
