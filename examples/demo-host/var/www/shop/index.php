<?php
// shop.example storefront: lists the newest products.
require __DIR__ . '/db.php';

$rows = db()->query('SELECT id, name, price FROM products ORDER BY created DESC LIMIT 20')->fetchAll();
?>
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop.example</title></head>
<body>
<h1>New this week</h1>
<ul>
<?php foreach ($rows as $r): ?>
  <li><a href="/products.php?id=<?= (int) $r['id'] ?>"><?= htmlspecialchars($r['name']) ?></a>
      <?= number_format($r['price'], 2) ?> EUR</li>
<?php endforeach; ?>
</ul>
<form action="/search" method="get"><input name="q"><button>Search</button></form>
</body></html>
