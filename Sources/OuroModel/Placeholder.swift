// OuroModel: see README.md in this folder.
