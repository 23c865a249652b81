import OuroCLI
OuroMambaCommand.main()
