package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	gh "github.com/google/go-github/v62/github"
)

// identity is the account the token writes comments as (see the package
// documentation for how it is learned).
type identity struct {
	mu    sync.Mutex
	login string // "" while unknown
	from  string // how login was learned, for the logs
	// asked is set once GitHub was asked and could not tell, so later
	// upserts of this client do not ask again; the first comment it
	// creates will tell.
	asked bool
}

// whoami returns the login of the token's account, asking GitHub at most
// once per client; "" (and no error) when GitHub could not tell.
func (c *Client) whoami(ctx context.Context) (string, error) {
	c.self.mu.Lock()
	defer c.self.mu.Unlock()
	if c.self.login != "" || c.self.asked {
		return c.self.login, nil
	}
	login, from, err := c.askLogin(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		c.self.asked = true
		c.log.Warn("github: cannot tell which account the token writes comments as; konductor will create its comment "+
			"to learn it, and remove that comment again if the account already has an older one", "error", err)
		return "", nil
	}
	c.self.login, c.self.from = login, from
	c.log.Debug("github: the token writes comments as", "login", login, "learned_from", from)
	return login, nil
}

// askLogin asks GitHub who the token is: GraphQL's viewer answers for
// every kind of token; GET /user is the fallback, though it answers 403 to
// installation tokens (GITHUB_TOKEN, GitHub Apps).
func (c *Client) askLogin(ctx context.Context) (login, from string, err error) {
	login, gqlErr := c.viewerLogin(ctx)
	if gqlErr == nil {
		return login, "GraphQL viewer", nil
	}
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	u, _, err := c.api.Users.Get(ctx, "")
	if err == nil && u.GetLogin() == "" {
		err = errors.New("no login in the answer")
	}
	if err != nil {
		return "", "", errors.Join(gqlErr, fmt.Errorf("GET /user: %w", err))
	}
	return u.GetLogin(), "GET /user", nil
}

func (c *Client) viewerLogin(ctx context.Context) (string, error) {
	req, err := c.api.NewRequest(http.MethodPost, c.graphqlURL, map[string]string{"query": "query { viewer { login } }"})
	if err != nil {
		return "", fmt.Errorf("GraphQL viewer: %w", err)
	}
	var out struct {
		Data struct {
			Viewer struct {
				Login string `json:"login"`
			} `json:"viewer"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := c.api.Do(ctx, req, &out); err != nil {
		return "", fmt.Errorf("GraphQL viewer: %w", err)
	}
	switch {
	case len(out.Errors) > 0:
		// GraphQL reports errors with a 200.
		return "", fmt.Errorf("GraphQL viewer: %s", out.Errors[0].Message)
	case out.Data.Viewer.Login == "":
		return "", errors.New("GraphQL viewer: no login in the answer")
	}
	return out.Data.Viewer.Login, nil
}

// learn records the author GitHub gave a comment this client created: that
// is the token's account beyond doubt.
func (c *Client) learn(login string) {
	if login == "" {
		return
	}
	c.self.mu.Lock()
	defer c.self.mu.Unlock()
	if strings.EqualFold(c.self.login, login) {
		return
	}
	if c.self.login != "" {
		c.log.Warn("github: the token writes comments as another account than expected; following GitHub",
			"login", login, "expected", c.self.login, "expected_from", c.self.from)
	}
	c.self.login, c.self.from, c.self.asked = login, "a comment it created", false
}

// ours reports whether a marked comment was written by the token's account
// (me; "" when unknown, then none is). Logins are case-insensitive on GitHub,
// and "[bot]" cannot occur in a user's login, so a login names one account.
func ours(cm *gh.IssueComment, me string) bool { return isMe(cm.GetUser().GetLogin(), me) }

// isMe reports whether login is the token's account me ("" when unknown,
// then no login is): what ours says of a comment, for any author.
func isMe(login, me string) bool { return me != "" && strings.EqualFold(login, me) }

// ignore says, once per comment and client, that a comment carrying our
// marker is left alone because another account wrote it.
func (c *Client) ignore(cm *gh.IssueComment, me string) {
	if me == "" {
		c.log.Debug("github: skipping a marked comment while the token's account is unknown",
			"comment", cm.GetID(), "author", cm.GetUser().GetLogin())
		return
	}
	if _, seen := c.ignored.LoadOrStore(cm.GetID(), true); seen {
		return
	}
	c.log.Warn("github: leaving alone a comment that starts with konductor's marker but was not written by this token's account",
		"comment", cm.GetID(), "url", cm.GetHTMLURL(),
		"author", cm.GetUser().GetLogin(), "author_type", cm.GetUser().GetType(), "token_account", me)
}
