<?php
// Back-office photo upload. It keeps the client's file name and never checks the type,
// so a .php file lands in this folder and nginx hands it to PHP-FPM.
header('Content-Type: application/json');
if (!isset($_FILES['photo']) || $_FILES['photo']['error'] !== UPLOAD_ERR_OK) {
    http_response_code(400);
    exit(json_encode(['ok' => false]));
}
$name = basename($_FILES['photo']['name']);
move_uploaded_file($_FILES['photo']['tmp_name'], __DIR__ . '/' . $name);
echo json_encode(['ok' => true, 'file' => '/uploads/' . $name]);
