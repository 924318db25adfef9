// shd: the program. Everything it does on the command line is in the CLI module's command table.
import CLI
import Daemon
#if canImport(Glibc)
import Glibc
#endif

// Before any thread exists: signals go to the signalfd only. libcurl is loaded later, and only when a
// configured channel sends through it (Notify's `CurlLibrary`, from the Dispatcher).
HandledSignals.block()
exit(ShdCommandLine.main(Array(CommandLine.arguments.dropFirst())))
