<?php
// A FaxOut client as PHP applications write it: curl with CURLFile and PHP array field names.
[$_, $url, $user, $pass, $file] = $argv;
$ch = curl_init($url);
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_SSL_VERIFYPEER, false);
curl_setopt($ch, CURLOPT_POSTFIELDS, [
    'Username' => $user,
    'Password' => $pass,
    'Recipient[0]' => '+1 650 555 0101|PHP Recipient',
    'Recipient[1]' => '6505550102',
    'Coverpage' => 'None',
    'Resolution' => 'High',
    'Attachment[0]' => new CURLFile($file, 'application/pdf', basename($file)),
    'Attachment[1]' => new CURLFile($file, '', 'copy of ' . basename($file)),
]);
$reply = curl_exec($ch);
if ($reply === false) { fwrite(STDERR, curl_error($ch)); exit(2); }
echo $reply;
