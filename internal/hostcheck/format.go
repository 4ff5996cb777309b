package hostcheck

import (
	"encoding/json"
	"fmt"
	"io"
)

// Line renders one result as `<status>  <item>: <detail>[ — fix: <fix>]`,
// the status padded so that items line up.
func (r Result) Line() string {
	s := fmt.Sprintf("%-7s  %s: %s", r.Status, r.Item, r.Detail)
	if r.Fix != "" && r.Status != OK {
		s += " — fix: " + r.Fix
	}
	return s
}

// WriteText writes one line per result.
func WriteText(w io.Writer, rs []Result) error {
	for _, r := range rs {
		if _, err := fmt.Fprintln(w, r.Line()); err != nil {
			return fmt.Errorf("write check results: %w", err)
		}
	}
	return nil
}

// jsonReport is the --format json document.
type jsonReport struct {
	Passed bool     `json:"passed"` // what the exit status says
	Checks []Result `json:"checks"`
}

// WriteJSON writes the results as one indented JSON document.
func WriteJSON(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonReport{Passed: Passed(rs), Checks: rs}); err != nil {
		return fmt.Errorf("write check results: %w", err)
	}
	return nil
}
