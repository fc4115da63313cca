package plan

// This file reads the workflow's event: which kind, which pull request or
// branch, which commit.

import (
	"encoding/json"
	"slices"
	"strings"
)

// previewActions are the pull_request activity types that preview.
var previewActions = []string{"opened", "synchronize", "reopened", "ready_for_review"}

// reviewActions are the pull_request_review activity types that preview
// again: an approval may override a policy violation, a dismissal takes
// the override back.
var reviewActions = []string{"submitted", "edited", "dismissed"}

// Event is what konductor reads of a webhook payload.
type Event struct {
	Name string
	// Action is the activity type (pull_request: opened, synchronize, …).
	Action string
	// PR is the pull request number (pull_request only).
	PR int
	// HeadSHA is the commit to run on: the pull request's head, the pushed
	// commit (after).
	HeadSHA string
	// HeadRepo and BaseRepo are "owner/name" (pull_request only); HeadRepo
	// is empty when the fork was deleted.
	HeadRepo, BaseRepo string
	// Fork is true for a pull request from another repository.
	Fork bool
	// Ref is the pushed ref (push) or the ref the workflow runs on.
	Ref string
	// Deleted is true for a push that deleted the ref.
	Deleted bool
}

// NeedsChangedFiles reports whether Make needs the pull request's changed
// files: a pull request activity that previews.
func (e *Event) NeedsChangedFiles() bool {
	return (e.Name == EventPullRequest && slices.Contains(previewActions, e.Action)) ||
		(e.Name == EventPullRequestReview && slices.Contains(reviewActions, e.Action))
}

// payload is the union of the webhook payload fields read.
type payload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Ref     string `json:"ref"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
}

// ParseEvent reads the event payload (the file at GITHUB_EVENT_PATH). ref
// and sha are GITHUB_REF and GITHUB_SHA, used where the payload has none.
func ParseEvent(name string, data []byte, ref, sha string) (*Event, error) {
	e := &Event{Name: name, Ref: ref, HeadSHA: sha}
	if len(strings.TrimSpace(string(data))) == 0 {
		if name == EventPullRequest || name == EventPullRequestReview || name == EventPush {
			return nil, badInput("the %s event payload is empty (GITHUB_EVENT_PATH)", name)
		}
		return e, nil
	}
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, badInput("the %s event payload is not valid JSON: %v", name, err)
	}
	e.Action = p.Action
	switch name {
	case EventPullRequest, EventPullRequestReview:
		pr := p.PullRequest
		if pr == nil {
			return nil, badInput("the %s event payload has no pull_request object", name)
		}
		e.PR = pr.Number
		if e.PR == 0 {
			e.PR = p.Number
		}
		if e.PR <= 0 {
			return nil, badInput("the %s event payload has no pull request number", name)
		}
		e.HeadSHA = pr.Head.SHA
		if pr.Head.Repo != nil {
			e.HeadRepo = pr.Head.Repo.FullName
		}
		if pr.Base.Repo != nil {
			e.BaseRepo = pr.Base.Repo.FullName
		}
		e.Fork = e.HeadRepo == "" || !strings.EqualFold(e.HeadRepo, e.BaseRepo)
	case EventPush:
		if p.Ref != "" {
			e.Ref = p.Ref
		}
		if p.After != "" && strings.Trim(p.After, "0") != "" {
			e.HeadSHA = p.After
		}
		e.Deleted = p.Deleted
	}
	return e, nil
}
