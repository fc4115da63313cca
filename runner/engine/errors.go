package engine

// This file makes the engine's failures readable and recognisable.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/containercraft/konductor-action/runner/result"
)

// ErrConcurrentUpdate is returned (wrapped) when the stack is locked by
// another update.
var ErrConcurrentUpdate = errors.New("stack is locked by another update")

// classify keeps the Automation API's error kinds recognisable after we
// wrap them.
func classify(err error) error {
	if auto.IsConcurrentUpdateError(err) {
		return fmt.Errorf("%w: %v", ErrConcurrentUpdate, err)
	}
	return err
}

// onlyPolicyFailed reports whether the engine's errors are only its
// summary of failed policies: no resource-level error.
func onlyPolicyFailed(r *result.Result) bool {
	for _, d := range r.Diagnostics {
		if d.Severity != "error" {
			continue
		}
		if d.Message != string(r.Operation)+" failed" && d.Message != "update failed" {
			return false
		}
	}
	return true
}

// errorText makes the CLI's failure readable: the error lines of its
// stderr rather than the whole transcript.
func errorText(r *result.Result, err error, stderr string) string {
	errs := 0
	for _, d := range r.Diagnostics {
		if d.Severity == "error" {
			errs++
		}
	}
	if errs > 0 {
		// The diagnostics say what went wrong, per resource.
		return fmt.Sprintf("%s failed with %d error(s), listed under Diagnostics", r.Operation, errs)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "warning:") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 0 {
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		return strings.Join(lines, "\n")
	}
	return err.Error()
}
