# A FaxOut client as Ruby code writes it: rest-client with a multipart payload.
require 'rest-client'
url, user, pass, file = ARGV
reply = RestClient::Request.execute(
  method: :post, url: url, verify_ssl: false,
  payload: { multipart: true, 'Username' => user, 'Password' => pass,
             'Recipient' => '6505550101|Ruby', 'Coverpagetext' => "Line 1\nLine 2",
             'Attachment' => File.new(file, 'rb') })
print reply.body
