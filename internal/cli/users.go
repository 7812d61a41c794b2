package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/authserver"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// storeGroups are the settings of the commands that work on the store.
func storeGroups() []group { return []group{groupPlannr, groupStore, groupStoreDB} }

// openStore opens the remote mode's store for a command. Listing people or
// revoking them decrypts nothing, so they work without the key.
func (e *runEnv) openStore(ctx context.Context, cfg *config, needKey bool) (store.Store, int, error) {
	spec, err := cfg.storeSpec()
	if err != nil {
		return nil, 0, err
	}
	keys, err := cfg.keyring(!needKey)
	if err != nil {
		return nil, 0, err
	}
	return store.Open(ctx, spec, keys)
}

// users lists who has signed in (users) or revokes a person (users revoke).
func (e *runEnv) users(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "revoke" {
		return e.revokeUser(ctx, args[1:])
	}
	cfg, err := e.parseFlagsOnly("users", args, storeGroups())
	if err != nil {
		return err
	}
	st, _, err := e.openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	people, err := st.Users(ctx)
	if err != nil {
		return err
	}
	if len(people) == 0 {
		fmt.Fprintf(e.Out, "Nobody has signed in through %s yet.\n", st.Describe())
		return nil
	}
	tw := tabwriter.NewWriter(e.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tID\tSIGNED IN\tLAST USE\tPLANNR TOKENS\tCLIENTS")
	for _, u := range people {
		tokens := "stored"
		if !u.HasPlannrTokens {
			tokens = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", untrusted.Text(u.Email), u.ID, when(u.SignedInAt), when(u.LastUsedAt), tokens, e.clientNames(ctx, st, u.Clients))
	}
	return tw.Flush()
}

// clientNames names the clients of a person's grants: each one's name (as
// it calls itself, cleaned) and id.
func (e *runEnv) clientNames(ctx context.Context, st store.Store, ids []string) string {
	if len(ids) == 0 {
		return "(no live grant)"
	}
	var names []string
	for _, id := range ids {
		name := ""
		if c, err := st.Client(ctx, id); err == nil {
			var m struct {
				Name string `json:"client_name"`
			}
			_ = json.Unmarshal(c.Metadata, &m)
			name = untrusted.Truncate(untrusted.Text(m.Name), 40)
		}
		if name == "" {
			names = append(names, untrusted.Text(id))
		} else {
			names = append(names, fmt.Sprintf("%s (%s)", untrusted.Quote(name), untrusted.Text(id)))
		}
	}
	return strings.Join(names, ", ")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// revokeUser revokes every MCP grant of a person and forgets their Plannr
// tokens: their clients must sign them in again.
func (e *runEnv) revokeUser(ctx context.Context, args []string) error {
	cfg, rest, err := e.parse("users revoke", args, storeGroups())
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(errors.New("usage: plannr-mcp users revoke EMAIL|ID (plannr-mcp users lists them)"))
	}
	st, _, err := e.openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.User(ctx, rest[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("nobody with e-mail address or id %s has signed in through %s; plannr-mcp users lists who has", untrusted.Quote(rest[0]), st.Describe())
	}
	if err != nil {
		return err
	}
	if err := st.Forget(ctx, u.ID, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.Out, "Revoked every MCP grant of %s (%s) and forgot their Plannr tokens. Their MCP clients are refused from their next request and must sign them in again.\n", untrusted.Text(u.Email), u.ID)
	return nil
}

// storeCommand runs store migrate and store rekey.
func (e *runEnv) storeCommand(ctx context.Context, args []string) error {
	const usage = "usage: plannr-mcp store migrate|rekey [flags]"
	if len(args) == 0 || (args[0] != "migrate" && args[0] != "rekey") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(e.Out, usage)
			return nil
		}
		fmt.Fprintln(e.Err, usage)
		return errUsage
	}
	sub := args[0]
	cfg, err := e.parseFlagsOnly("store "+sub, args[1:], storeGroups())
	if err != nil {
		return err
	}
	st, applied, err := e.openStore(ctx, cfg, sub == "rekey")
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "migrate" {
		fmt.Fprintf(e.Out, "The store %s is at schema version %d (%d migrations applied now).\n", st.Describe(), store.SchemaVersion(), applied)
		return nil
	}
	n, err := st.Rekey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Out, "Re-encrypted %d rows of %s under the current store key; the old keys in PLANNR_MCP_STORE_OLD_KEYS can now be dropped.\n", n, st.Describe())
	return nil
}

// remoteStatus is auth status for the HTTP mode with --auth oauth: where
// the store is, whether the key opens it, who has signed in, and what to
// register with Plannr.
func (e *runEnv) remoteStatus(ctx context.Context, cfg *config) error {
	out := e.Out
	fmt.Fprintln(out, "Authentication: oauth (each person signs in to Plannr through their MCP client)")
	public, note := cfg.remote.publicURL, ""
	if public == "" {
		public, note = "http://"+cfg.http.Addr, " (no --public-url: only for a loopback address)"
	}
	fmt.Fprintf(out, "Public URL: %s%s\n", public, note)
	if cfg.sandbox {
		fmt.Fprintln(out, "Plannr: the built-in sandbox, with its demo client and users")
		return nil
	}
	fmt.Fprintf(out, "Plannr: %s\n", cfg.baseURL)
	problems := 0
	if cfg.clientID == "" {
		fmt.Fprintln(out, "Plannr client: none. Set PLANNR_CLIENT_ID and PLANNR_CLIENT_SECRET (or PLANNR_CLIENT_SECRET_FILE).")
		problems++
	} else {
		fmt.Fprintf(out, "Plannr client: %s; its redirect URL registered with Plannr must be %s%s\n", untrusted.Text(cfg.clientID), public, authserver.CallbackPath)
		if _, err := clientSecret(cfg); err != nil {
			fmt.Fprintf(out, "Plannr client secret: %v\n", err)
			problems++
		}
	}
	st, _, err := e.openStore(ctx, cfg, false)
	if err != nil {
		fmt.Fprintf(out, "Store: cannot be opened: %v\n", err)
		return errReported
	}
	defer st.Close()
	fmt.Fprintf(out, "Store: %s (schema version %d)\n", st.Describe(), store.SchemaVersion())
	people, err := st.Users(ctx)
	if err != nil {
		fmt.Fprintf(out, "Store: cannot be read: %v\n", err)
		return errReported
	}
	signedIn := 0
	var sample string
	for _, u := range people {
		if u.HasPlannrTokens {
			signedIn++
			if sample == "" {
				sample = u.ID
			}
		}
	}
	fmt.Fprintf(out, "People: %d have signed in, %d with Plannr tokens stored\n", len(people), signedIn)
	switch {
	case cfg.remote.storeKey == "":
		fmt.Fprintf(out, "Store key: none; %s\n", storeKeyHelp)
		problems++
	case sample != "":
		if _, err := st.PlannrTokens(ctx, sample); err != nil {
			fmt.Fprintf(out, "Store key: does not open the stored tokens: %v\n", err)
			problems++
		} else {
			fmt.Fprintln(out, "Store key: opens the stored tokens")
		}
	default:
		fmt.Fprintln(out, "Store key: set")
	}
	if problems > 0 {
		return errReported
	}
	return nil
}
