<?php
// Product page. The id is pasted into the SQL text: this is the injection sqlmap found.
require __DIR__ . '/db.php';

$id = $_GET['id'] ?? '0';
$row = db()->query("SELECT name, price, description FROM products WHERE id = $id")->fetch();
if (!$row) {
    http_response_code(404);
    exit('not found');
}
?>
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title><?= htmlspecialchars($row['name']) ?></title></head>
<body><h1><?= htmlspecialchars($row['name']) ?></h1>
<p><?= htmlspecialchars($row['description']) ?></p><p><?= number_format($row['price'], 2) ?> EUR</p></body></html>
