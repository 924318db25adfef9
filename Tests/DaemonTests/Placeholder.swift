// DaemonTests: tests land with their module's issue.
import Testing
