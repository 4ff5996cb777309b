package urunit

// Param is one kernel command-line parameter as Linux reads it: Name, and
// Value when HasValue (the parameter had an '='), both with the quotes the
// kernel strips removed.
type Param struct {
	Name     string
	Value    string
	HasValue bool
}

// Cmdline is a kernel command line split into parameters.
type Cmdline struct {
	// Params are the parameters before a "--"; what follows it the kernel
	// passes to init as arguments, not as parameters.
	Params []Param
	// Dashes: a "--" ended the parameters.
	Dashes bool
	// OpenQuote: the last parameter opened a '"' it never closed, so that
	// anything appended to the command line would become part of it.
	OpenQuote bool
}

// ParseCmdline splits cmdline the way Linux's parse_args and next_arg
// (kernel/params.c, lib/cmdline.c) do, so that urunit and the runtime read
// the same parameters the kernel does: blanks (the kernel's isspace, which
// includes byte 0xa0) separate parameters outside '"' quotes, a '"' anywhere
// toggles quoting, and a '"' opening the parameter or its value is stripped
// with the last byte when that is a '"'. Parsing stops at a parameter "--".
func ParseCmdline(cmdline string) Cmdline {
	var c Cmdline
	args := skipKernelSpaces(cmdline)
	for args != "" {
		p, rest, open := nextParam(args)
		if open {
			c.OpenQuote = true
		}
		if !p.HasValue && p.Name == "--" {
			c.Dashes = true
			return c
		}
		c.Params = append(c.Params, p)
		args = skipKernelSpaces(rest)
	}
	return c
}

// Last returns the value of the last parameter named name; ok is false when
// there is none. Later parameters win, as they do for the kernel's own.
func (c Cmdline) Last(name string) (value string, ok bool) {
	for _, p := range c.Params {
		if p.Name == name {
			value, ok = p.Value, true
		}
	}
	return value, ok
}

// nextParam is next_arg: it reads one parameter from the start of args (no
// leading blanks) and returns it, the rest of args and whether a quote was
// still open at its end.
func nextParam(args string) (Param, string, bool) {
	inQuote, quoted := false, false
	if args[0] == '"' {
		args = args[1:]
		inQuote, quoted = true, true
	}
	equals, i := 0, 0
	for ; i < len(args); i++ {
		if isKernelSpace(args[i]) && !inQuote {
			break
		}
		if equals == 0 && args[i] == '=' {
			equals = i
		}
		if args[i] == '"' {
			inQuote = !inQuote
		}
	}
	// The kernel cuts the parameter in place with NULs; do the same on a
	// copy and read the strings up to the first NUL.
	b := []byte(args[:i])
	valStart := -1
	if equals != 0 {
		b[equals] = 0
		valStart = equals + 1
		if valStart < len(b) && b[valStart] == '"' {
			valStart++
			if b[i-1] == '"' {
				b[i-1] = 0
			}
		}
	}
	if quoted && i > 0 && b[i-1] == '"' {
		b[i-1] = 0
	}
	p := Param{Name: cString(b), HasValue: valStart >= 0}
	if valStart >= 0 && valStart <= len(b) {
		p.Value = cString(b[valStart:])
	}
	rest := args[i:]
	if rest != "" {
		rest = rest[1:] // the blank that ended the parameter
	}
	return p, rest, inQuote
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// isKernelSpace is the kernel's isspace (lib/ctype.c): the ASCII blanks and
// 0xa0, which it classes as a space too.
func isKernelSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xa0:
		return true
	}
	return false
}

func skipKernelSpaces(s string) string {
	for s != "" && isKernelSpace(s[0]) {
		s = s[1:]
	}
	return s
}
