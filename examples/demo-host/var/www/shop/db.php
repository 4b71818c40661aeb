<?php
// One PDO connection per request; credentials come from the FPM pool environment.
function db(): PDO
{
    static $pdo = null;
    if ($pdo === null) {
        $pdo = new PDO('mysql:host=127.0.0.1;dbname=shop;charset=utf8mb4', getenv('SHOP_DB_USER'), getenv('SHOP_DB_PASS'),
                       [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    }
    return $pdo;
}
