package io.tokenmeter.server.alert;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** A webhook receiver that accepts connections and never answers, holding them open until closed. */
final class HangingReceiver implements AutoCloseable
{
    private final ServerSocket server;
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final Semaphore accepted = new Semaphore(0);
    private final Thread acceptor;

    HangingReceiver() throws IOException
    {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(() ->
        {
            while (!server.isClosed())
            {
                try
                {
                    held.add(server.accept());
                    accepted.release();
                }
                catch (final IOException ex)
                {
                    return;
                }
            }
        }, "hanging-receiver");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    String url(final String path)
    {
        return "http://127.0.0.1:" + server.getLocalPort() + path;
    }

    /** @return true when a connection was accepted within 10 s. */
    boolean awaitConnection() throws InterruptedException
    {
        return accepted.tryAcquire(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception
    {
        server.close();
        for (final Socket s : held)
        {
            s.close();
        }
        acceptor.join(5_000);
    }
}
