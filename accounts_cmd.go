package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// cmdAccounts prints the accounts the configured token can act for, so a
// person can set PLANNR_ACCOUNT_UUID to the right one.
func cmdAccounts(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := setup("accounts", args, stderr, getenv)
	if err != nil {
		return err
	}
	defer a.close()
	logins, err := a.api.ListLogins(ctx)
	if err != nil {
		return fmt.Errorf("listing accounts: %s", a.toolset.DescribeError(ctx, err))
	}
	accounts := tools.Accounts(logins, a.account)
	if len(accounts) == 0 {
		fmt.Fprintln(stdout, "The token can act for no Plannr account.")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tACCOUNT UUID\t")
	for _, acct := range accounts {
		var marks []string
		if acct.Preferred {
			marks = append(marks, "preferred")
		}
		if acct.Configured {
			marks = append(marks, "configured")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", untrusted.Text(acct.Name), untrusted.Text(acct.Type), acct.AccountUUID, strings.Join(marks, ", "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "Set PLANNR_ACCOUNT_UUID (or --account-uuid) to the ACCOUNT UUID of the account to act for.")
	return nil
}
