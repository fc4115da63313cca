package result

import (
	"cmp"
	"slices"
	"sort"
	"strings"

	"github.com/containercraft/konductor-action/modules"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Values the engine uses in place of data it must not or cannot show.
const (
	secretSig     = "4dabf18193072939515e22adb298388d"
	unknownString = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
	// SecretText replaces every secret value.
	SecretText = modules.Secret
	// UnknownText replaces values computed during the deploy.
	UnknownText = "(known after apply)"
	// maxValue bounds one rendered value; a larger one is cut with a marker.
	maxValue = 400
)

const stackType = "pulumi:pulumi:Stack"

// ModuleType is the component type each konductor module's resources are
// parented to; a step's module is found by walking its parents to one.
const ModuleType = "konductor:index:Module"

// Builder folds engine events into a Result. It is not safe for concurrent
// use: feed it from the one goroutine reading the event channel.
type Builder struct {
	r      *Result
	byURN  map[string]int // index into r.Steps
	oldOut map[string]any
	newOut map[string]any
	seenOp map[string]bool
	module map[string]string // URN → its module, for every resource seen
}

// NewBuilder starts a result for project/stack.
func NewBuilder(project, stack string, op Operation) *Builder {
	return &Builder{
		r: &Result{Project: project, Stack: stack, Operation: op, Status: Succeeded,
			Counts: map[Op]int{}, Outputs: map[string]Output{}},
		byURN: map[string]int{}, module: map[string]string{},
	}
}

// Add folds one event in.
func (b *Builder) Add(e apitype.EngineEvent) {
	switch {
	case e.ResourcePreEvent != nil:
		b.step(e.ResourcePreEvent.Metadata)
	case e.ResOutputsEvent != nil:
		md := e.ResOutputsEvent.Metadata
		if md.Type == stackType {
			b.stackOutputs(md)
		}
	case e.PolicyEvent != nil:
		b.policy(*e.PolicyEvent)
	case e.DiagnosticEvent != nil:
		d := e.DiagnosticEvent
		sev := strings.TrimSuffix(d.Severity, "#err")
		if d.Ephemeral || sev == "debug" {
			return
		}
		msg := strings.TrimSpace(d.Message)
		if msg == "" || expectedNoise(msg) {
			return
		}
		b.r.Diagnostics = append(b.r.Diagnostics, Diagnostic{Severity: sev, URN: d.URN, Message: msg})
	case e.SummaryEvent != nil:
		// The engine's own tally includes unchanged resources: it wins.
		b.r.Counts = map[Op]int{}
		for op, n := range e.SummaryEvent.ResourceChanges {
			if f, ok := foldOp(string(op)); ok {
				b.r.Counts[f] += n
			}
		}
	}
}

// expectedNoise reports engine messages that say nothing to a reviewer: the
// pinned plugins are found on PATH by design.
func expectedNoise(msg string) bool {
	return strings.HasPrefix(msg, "using pulumi-resource-") && strings.Contains(msg, " from $PATH at ")
}

// Result returns the built result.
func (b *Builder) Result() *Result {
	if b.oldOut != nil || b.newOut != nil {
		b.r.Outputs = diffOutputs(b.oldOut, b.newOut)
	}
	// The engine works in parallel, so its event order varies from run to
	// run; a rerun must render the same comment. Mandatory violations first.
	slices.SortStableFunc(b.r.Violations, func(x, y Violation) int {
		if x.Mandatory() != y.Mandatory() {
			if x.Mandatory() {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(x.Pack, y.Pack), cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Type, y.Type),
			cmp.Compare(x.Name, y.Name), cmp.Compare(x.URN, y.URN), cmp.Compare(x.Message, y.Message))
	})
	slices.SortStableFunc(b.r.Steps, func(x, y Step) int {
		return cmp.Or(cmp.Compare(x.Module, y.Module), cmp.Compare(x.Type, y.Type), cmp.Compare(x.Name, y.Name), cmp.Compare(x.URN, y.URN))
	})
	for i, s := range b.r.Steps {
		b.byURN[s.URN] = i // so that events added later still land right
	}
	return b.r
}

// foldOp maps engine ops to the ops a reviewer cares about.
func foldOp(op string) (Op, bool) {
	switch apitype.OpType(op) {
	case apitype.OpSame:
		return OpSame, true
	case apitype.OpCreate:
		return OpCreate, true
	case apitype.OpUpdate:
		return OpUpdate, true
	case apitype.OpDelete:
		return OpDelete, true
	case apitype.OpReplace:
		return OpReplace, true
	case apitype.OpRead, apitype.OpReadReplacement:
		return OpRead, true
	case apitype.OpRefresh:
		return OpRefresh, true
	case apitype.OpImport, apitype.OpImportReplacement:
		return OpImport, true
	}
	// create-replacement, delete-replaced, discard-replaced and
	// remove-pending-replace are halves of a "replace" already counted.
	return "", false
}

func (b *Builder) step(md apitype.StepEventMetadata) {
	if md.Type == stackType {
		return
	}
	module := b.moduleOf(md)
	if apitype.OpType(md.Op) == apitype.OpDeleteReplaced || apitype.OpType(md.Op) == apitype.OpCreateReplacement {
		// The replace step already described this resource; note the order.
		if i, ok := b.byURN[md.URN]; ok && apitype.OpType(md.Op) == apitype.OpDeleteReplaced {
			if _, created := b.seenOpFor(md.URN, string(apitype.OpCreateReplacement)); !created {
				b.r.Steps[i].DeleteBeforeReplace = true
			}
		}
		b.markOp(md.URN, string(md.Op))
		return
	}
	op, ok := foldOp(string(md.Op))
	if !ok {
		return
	}
	b.markOp(md.URN, string(md.Op))
	if op == OpSame {
		return
	}
	s := Step{Op: op, URN: md.URN, Type: md.Type, Name: nameOf(md.URN), Module: module}
	var oldIn, newIn map[string]any
	if md.Old != nil {
		oldIn = md.Old.Inputs
	}
	if md.New != nil {
		newIn = md.New.Inputs
	}
	switch op {
	case OpUpdate, OpReplace:
		s.Diffs = propertyDiffs(md, oldIn, newIn)
		s.ReplaceReasons = slices.Clone(md.Keys)
		sort.Strings(s.ReplaceReasons)
	case OpCreate:
		s.Diffs = flatDiff("", nil, newIn)
	case OpDelete:
		s.Diffs = flatDiff("", oldIn, nil)
	}
	if i, ok := b.byURN[md.URN]; ok {
		b.r.Steps[i] = s // a later event for the same resource wins
		return
	}
	b.byURN[md.URN] = len(b.r.Steps)
	b.r.Steps = append(b.r.Steps, s)
}

// moduleOf finds and records the module md's resource belongs to. The
// engine announces a parent before its children, unchanged ones included, so
// the parent's module is already known.
func (b *Builder) moduleOf(md apitype.StepEventMetadata) string {
	if m, ok := b.module[md.URN]; ok {
		return m
	}
	var m string
	if md.Type == ModuleType {
		m = nameOf(md.URN)
		if !slices.Contains(b.r.Modules, m) {
			b.r.Modules = append(b.r.Modules, m)
			slices.Sort(b.r.Modules)
		}
	} else {
		parent := ""
		for _, st := range []*apitype.StepEventStateMetadata{md.New, md.Old} {
			if st != nil && st.Parent != "" {
				parent = st.Parent
				break
			}
		}
		m = b.module[parent]
	}
	b.module[md.URN] = m
	return m
}

func (b *Builder) markOp(urn, op string) {
	if b.seenOp == nil {
		b.seenOp = map[string]bool{}
	}
	b.seenOp[urn+"\x00"+op] = true
}

func (b *Builder) seenOpFor(urn, op string) (string, bool) {
	return op, b.seenOp[urn+"\x00"+op]
}

func (b *Builder) stackOutputs(md apitype.StepEventMetadata) {
	if md.Old != nil && md.Old.Outputs != nil {
		b.oldOut = md.Old.Outputs
	}
	if md.New != nil && md.New.Outputs != nil {
		b.newOut = md.New.Outputs
	}
}

func (b *Builder) policy(p apitype.PolicyEvent) {
	level := p.EnforcementLevel
	if level == "warning" {
		level = "advisory"
	}
	// The engine sends the policy's description, a newline, then what
	// the policy reported: keep them apart so a report can show the finding.
	msg := strings.TrimSpace(p.Message)
	desc := ""
	if d, rest, ok := strings.Cut(msg, "\n"); ok && strings.TrimSpace(rest) != "" {
		desc, msg = strings.TrimSpace(d), strings.TrimSpace(rest)
	}
	v := Violation{Pack: p.PolicyPackName, PackVersion: p.PolicyPackVersion, Rule: p.PolicyName,
		Level: level, URN: p.ResourceURN, Message: msg, Description: desc}
	if p.ResourceURN != "" {
		v.Type, v.Name = typeOf(p.ResourceURN), nameOf(p.ResourceURN)
	}
	b.r.Violations = append(b.r.Violations, v)
}

// nameOf returns the resource name, the URN's last part.
func nameOf(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

// typeOf returns the resource type of a URN (urn:pulumi:stack::proj::parent$type::name).
func typeOf(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return ""
	}
	t := parts[len(parts)-2]
	if i := strings.LastIndex(t, "$"); i >= 0 {
		t = t[i+1:]
	}
	return t
}
