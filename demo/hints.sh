# The demo's hints (sourced by scripts/demo, and by the installed custfs-demo):
# what to try, each line a command that works as its comment says
# (tests/integration/demo_hints.py runs them). The comments and prose are in
# the reader's language: gettext, domain custfs (po/POTFILES lists this file).
# Uses: mnt, demo, p (the staff's login prefix), custctl.

command -v gettext >/dev/null || gettext() { printf '%s' "$1"; }
export TEXTDOMAIN=custfs

demo_hints() {
echo
# shellcheck disable=SC2059 # the format is the message, translated
printf "$(gettext "custfs demo is mounted at %s (store: %s).")\n" "$mnt" "$demo/store"
echo
echo "$(gettext "Try, as root:")"
echo "  ls $mnt                              # $(gettext "customers (ids are sealed on disk too)")"
echo "  ls -l $mnt/C1001                     # $(gettext "field files; sizes come without decrypting")"
echo "  cat $mnt/C1001/company $mnt/杭州西湖茶庄/address"
echo "  echo 13900001111 > $mnt/C1001/phone  # $(gettext "a new version, encrypted, atomic")"
echo "  echo 'not a phone' > $mnt/C1001/phone; cat $mnt/C1001/phone   # $(gettext "refused (EINVAL), unchanged")"
echo "  vim $mnt/C1001/requirements          # $(gettext "editors work; every save is a version")"
echo "  $custctl history $demo/store C1001 phone"
echo "  $custctl history $demo/store C1001 phone --show 1"
echo "  mkdir $mnt/NEWCO && echo 'New Tea Co' > $mnt/NEWCO/company"
echo "  rm $mnt/C1001/phone                  # $(gettext "refused: nothing is deleted (R3.4)")"
echo "  $custctl export $demo/store | head -3"
echo "  grep -rl 13812345678 $demo/store || echo \"no plaintext at rest\""
echo
echo "$(gettext "Sample staff (Linux accounts, each sees their own view of the same mount):")"
echo "  ${p}sales ($(gettext "sales")), ${p}prod ($(gettext "production")), ${p}service ($(gettext "customer service")),"
echo "  ${p}intern ($(gettext "sales intern")), ${p}partner ($(gettext "call-centre partner, 3 customers")),"
echo "  ${p}admin ($(gettext "administration")), ${p}tech ($(gettext "technical: no customer contents"))"
echo "  runuser -u ${p}prod    -- ls $mnt/C1001          # $(gettext "orders fields and the name only")"
echo "  runuser -u ${p}intern  -- cat $mnt/C1001/phone   # $(gettext "masked: 138****5678")"
echo "  runuser -u ${p}partner -- ls $mnt                # $(gettext "only its named customers")"
echo "  runuser -u ${p}tech    -- ls $mnt                # $(gettext "nothing")"
echo "  runuser -u ${p}admin   -- cat $mnt/C1001/credit_limit   # $(gettext "refused: needs a checkout (R3.5)")"
echo "  runuser -u ${p}admin   -- cat $mnt/.custfs/why       # $(gettext "why, and how to appeal")"
echo "  cd $mnt && runuser -u ${p}admin -- $custctl checkout C1001/finance --purpose review --for 30m"
echo "  runuser -u ${p}admin   -- cat $mnt/C1001/credit_limit   # $(gettext "now it opens; custctl return --all ends it")"
echo "  cd $mnt && runuser -u ${p}sales -- $custctl app new ${p}intern sales --reason \"new role\""
echo "  cd $mnt && runuser -u ${p}admin -- $custctl inbox        # $(gettext "what waits for administration")"
echo "  cd $mnt && runuser -u ${p}admin -- $custctl app approve 1"
echo "  cd $mnt && runuser -u ${p}tech  -- $custctl inbox        # $(gettext "what waits for technical")"
echo "  cd $mnt && runuser -u ${p}tech  -- $custctl app implement 1"
echo "  rm -rf $demo/proposal && cp -r $demo/policy $demo/proposal && sed -i 's/ mask phone,email/ mask email/' $demo/proposal/access.conf"
echo "  cd $mnt && runuser -u ${p}tech  -- $custctl policy propose $demo/proposal --reason \"interns call customers\""
echo "  cd $mnt && runuser -u ${p}admin -- $custctl policy diff 1     # $(gettext "who gains what (WIDENS)")"
echo "  cd $mnt && runuser -u ${p}admin -- $custctl policy replay 1   # $(gettext "the real log, re-decided")"
echo "  $custctl explain $demo/store ${p}prod C1001/phone   # $(gettext "refused, and why, step by step")"
echo "  $custctl employee list $demo/store; $custctl grant list $demo/store"
echo "  $custctl audit $demo/store | tail          # $(gettext "every access on the record (R5.1)")"
echo "  $custctl audit report $demo/store; $custctl audit verify $demo/store"
echo "$(gettext "Stop the demo:") fusermount3 -u $mnt"
}
