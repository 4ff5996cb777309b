//go:build tools

// critest is a test binary (cmd/critest has only _test.go files), so it cannot
// be a tool directive: these imports keep its test's dependencies in go.sum for
// `go test -c sigs.k8s.io/cri-tools/cmd/critest` (scripts/install-tools.sh).
package tools

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "sigs.k8s.io/cri-tools/pkg/benchmark"
	_ "sigs.k8s.io/cri-tools/pkg/common"
	_ "sigs.k8s.io/cri-tools/pkg/framework"
	_ "sigs.k8s.io/cri-tools/pkg/validate"
	_ "sigs.k8s.io/cri-tools/pkg/version"
)
