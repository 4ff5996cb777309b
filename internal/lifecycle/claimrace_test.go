package lifecycle

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Concurrent claims of different ids: each must succeed.
func TestClaimRace(t *testing.T) {
	r := &Runtime{Root: t.TempDir()}
	fails := 0
	var mu sync.Mutex
	for round := 0; round < 200; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				f, err := r.claimVMDir(fmt.Sprintf("r%d-c%d", round, i))
				if err != nil {
					mu.Lock()
					fails++
					if fails < 5 {
						t.Logf("claim: %v", err)
					}
					mu.Unlock()
					return
				}
				f.Close()
			}(i)
		}
		wg.Wait()
		os.RemoveAll(r.Root + "/.urunc")
	}
	if fails > 0 {
		t.Errorf("%d of 4000 concurrent claims failed", fails)
	}
}
