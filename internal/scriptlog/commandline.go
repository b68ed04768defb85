package scriptlog

// CommandLine returns args (a whole argv, command first) as one line that a
// POSIX shell would read back as the same words: the form Exec records as a
// run's Script. It does not redact: pass it Redactor.Args's result.
func CommandLine(args []string) string { return shellJoin(args) }
