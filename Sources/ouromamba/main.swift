import OuroCLI
import OuroEngine
MemoryTuning.keepLargeAllocations()
OuroMambaCommand.runMain()
