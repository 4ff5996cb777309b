package agent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

type testOrders struct {
	Args []string `json:"args"`
}

// readOrders reads frames from r as urunit does, until the orders end.
func readOrders(t *testing.T, r *bytes.Buffer) (testOrders, error) {
	t.Helper()
	var rd OrdersReader
	for {
		typ, p, err := ReadFrame(r, nil)
		if err != nil {
			return testOrders{}, err
		}
		if typ != FrameOrders {
			t.Fatalf("frame type %d, want %d", typ, FrameOrders)
		}
		done, err := rd.Add(p)
		if err != nil {
			return testOrders{}, err
		}
		if done {
			var o testOrders
			return o, rd.Decode(&o)
		}
	}
}

func TestOrdersRoundTrip(t *testing.T) {
	for name, args := range map[string][]string{
		"small":        {"/bin/app", "-v"},
		"over a frame": {strings.Repeat("a", 3*MaxPayload+17)},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteOrders(&buf, testOrders{Args: args}); err != nil {
				t.Fatal(err)
			}
			got, err := readOrders(t, &buf)
			if err != nil || len(got.Args) != len(args) || got.Args[0] != args[0] {
				t.Errorf("read back %d args, %v", len(got.Args), err)
			}
		})
	}
}

func TestOrdersBounds(t *testing.T) {
	if err := WriteOrders(&bytes.Buffer{}, testOrders{Args: []string{strings.Repeat("a", MaxOrders)}}); !errors.Is(err, ErrOrdersTooLarge) {
		t.Errorf("writing orders over MaxOrders: %v", err)
	}
	// A host that sends chunks without end is cut off at MaxOrders.
	var rd OrdersReader
	chunk := make([]byte, MaxPayload)
	var err error
	for i := 0; i <= MaxOrders/MaxPayload && err == nil; i++ {
		_, err = rd.Add(chunk)
	}
	if !errors.Is(err, ErrOrdersTooLarge) {
		t.Errorf("endless chunks: %v, want ErrOrdersTooLarge", err)
	}
	// Unknown fields are refused, as in urunit's config file.
	rd = OrdersReader{}
	rd.Add([]byte(`{"args":["x"],"evil":1}`))
	if err := rd.Decode(&testOrders{}); err == nil {
		t.Error("orders with an unknown field decoded")
	}
}
