// shd command line: parses arguments and hands over to the Daemon module.
import Daemon
