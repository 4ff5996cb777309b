package urunit

import (
	"reflect"
	"testing"
)

// TestParseCmdline checks the split against what Linux's next_arg and
// parse_args make of each line.
func TestParseCmdline(t *testing.T) {
	p := func(name, value string) Param { return Param{Name: name, Value: value, HasValue: true} }
	flag := func(name string) Param { return Param{Name: name} }
	tests := []struct {
		name string
		line string
		want Cmdline
	}{
		{"empty", "", Cmdline{}},
		{"blanks only", " \t\n", Cmdline{}},
		{"plain", "console=ttyS0 quiet  ip=1::2", Cmdline{Params: []Param{p("console", "ttyS0"), flag("quiet"), p("ip", "1::2")}}},
		{"empty value", "ip=", Cmdline{Params: []Param{p("ip", "")}}},
		{"quoted value keeps blanks", `dyndbg="file a.c +p" x`, Cmdline{Params: []Param{p("dyndbg", "file a.c +p"), flag("x")}}},
		{"quoted whole parameter", `"a=b c" d`, Cmdline{Params: []Param{p("a", "b c"), flag("d")}}},
		{"quote inside a name", `a"b c"=d e`, Cmdline{Params: []Param{p(`a"b c"`, "d"), flag("e")}}},
		{"lone quote value", `a=" b`, Cmdline{Params: []Param{p("a", " b")}, OpenQuote: true}},
		{"open quote swallows the rest", `x=" ip=1.2.3.4 urunit.halt=poweroff`,
			Cmdline{Params: []Param{p("x", " ip=1.2.3.4 urunit.halt=poweroff")}, OpenQuote: true}},
		{"0xa0 is a kernel blank", "a\xa0ip=1", Cmdline{Params: []Param{flag("a"), p("ip", "1")}}},
		{"tab and newline are blanks", "a\tb\nc", Cmdline{Params: []Param{flag("a"), flag("b"), flag("c")}}},
		{"dashes stop parameters", "a=1 -- ip=2 b", Cmdline{Params: []Param{p("a", "1")}, Dashes: true}},
		{"quoted dashes stop too", `a "--" ip=2`, Cmdline{Params: []Param{flag("a")}, Dashes: true}},
		{"dashes with a value do not", "--=1 b", Cmdline{Params: []Param{p("--", "1"), flag("b")}}},
		{"leading equals is part of the name", "=a=b", Cmdline{Params: []Param{p("=a", "b")}}},
		{"last wins is the caller's", "ip=1 ip=2", Cmdline{Params: []Param{p("ip", "1"), p("ip", "2")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseCmdline(tc.line); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseCmdline(%q) =\n %+v\nwant\n %+v", tc.line, got, tc.want)
			}
		})
	}
}

func TestCmdlineLast(t *testing.T) {
	c := ParseCmdline("ip=1 urunit.mtu=9000 ip=2 -- ip=3")
	if v, ok := c.Last("ip"); !ok || v != "2" {
		t.Errorf("Last(ip) = %q, %v; want 2 (the last before --)", v, ok)
	}
	if _, ok := c.Last("urunit.ip6"); ok {
		t.Error("Last(urunit.ip6) found a parameter that is not there")
	}
}
