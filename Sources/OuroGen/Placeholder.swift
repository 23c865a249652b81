// OuroGen: see README.md in this folder.
