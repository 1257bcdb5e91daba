package main

import (
	"flag"
	"fmt"
	"strings"
)

// secretFlags are the flags whose values are secrets, with where else the
// secret can come from: a command line is readable by every user of the
// machine (ps, /proc/PID/cmdline) and stays in shell history, while a
// file or the environment is not.
var secretFlags = []struct{ name, env, file string }{
	{"token", "DROVER_TOKEN", "token-file"},
	{"join-token", "", "join-token-file"},
}

// warnSecretFlags prints a warning on stderr for every secret given as a
// flag value, naming the command's other ways to take it. parseFlags
// calls it for every command, so that none can forget; a secret read
// from a file or the environment passes silently.
func warnSecretFlags(fs *flag.FlagSet, io stdio) {
	fs.Visit(func(f *flag.Flag) {
		for _, s := range secretFlags {
			if f.Name != s.name || f.Value.String() == "" {
				continue
			}
			var ways []string
			if s.env != "" {
				ways = append(ways, "set "+s.env)
			}
			if fs.Lookup(s.file) != nil {
				ways = append(ways, "use -"+s.file)
			}
			fmt.Fprintf(io.err, "Warning: -%s on the command line is visible to every user of this machine (ps, /proc/PID/cmdline) and stays in shell history; %s instead.\n",
				s.name, strings.Join(ways, " or "))
		}
	})
}
