package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The orders handshake comes before the session, on the bare channel, for
// guests booted with urunit.OrdersParam (VM templates):
//
//   - A host that builds a template sends FrameHello; urunit answers
//     FrameReady once it waits for orders and nothing else will run in
//     the guest until they come. The host then saves the VM.
//   - A host that runs a container (a clone restored from the template,
//     or a guest cold-booted in orders mode) sends its urunit.Orders as
//     FrameOrders chunks, the last one empty; urunit applies them and
//     answers FrameStarted, a JSON Reply. On success the same channel
//     goes on as the agent session.
//
// urunit may see the channel close and reopen between the two (a clone
// is a new VMM); it keeps reading frames where it stopped, so a host's
// frames are never split between two of its readers.
const (
	FrameHello   FrameType = 16 // h: no payload
	FrameReady   FrameType = 17 // g: no payload
	FrameOrders  FrameType = 18 // h: a chunk of JSON urunit.Orders; empty ends them
	FrameStarted FrameType = 19 // g: JSON Reply: the orders were applied, or why not
)

// MaxOrders bounds the JSON orders urunit reads: the application's args
// and env may be large, but not without end.
const MaxOrders = 4 << 20

// ErrOrdersTooLarge: the orders exceed MaxOrders.
var ErrOrdersTooLarge = errors.New("agent: orders too large")

// WriteOrders sends v as FrameOrders chunks and the empty one that ends them.
func WriteOrders(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("agent: encode orders: %w", err)
	}
	if len(data) > MaxOrders {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrOrdersTooLarge, len(data), MaxOrders)
	}
	for len(data) > 0 {
		n := min(len(data), MaxPayload)
		if err := WriteFrame(w, FrameOrders, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return WriteFrame(w, FrameOrders, nil)
}

// OrdersReader assembles FrameOrders chunks, bounded by MaxOrders.
type OrdersReader struct {
	data []byte
}

// Add takes one chunk's payload and reports whether it ended the orders.
func (o *OrdersReader) Add(p []byte) (done bool, err error) {
	if len(p) == 0 {
		return true, nil
	}
	if len(o.data)+len(p) > MaxOrders {
		return false, fmt.Errorf("%w: over %d bytes", ErrOrdersTooLarge, MaxOrders)
	}
	o.data = append(o.data, p...)
	return false, nil
}

// Decode decodes the assembled orders into v, strictly.
func (o *OrdersReader) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(o.data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("agent: decode orders: %w", err)
	}
	return nil
}
