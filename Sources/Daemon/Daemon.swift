// Placeholder for the daemon composition root (issue #4).
import Reports
import Workers
